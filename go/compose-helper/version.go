package main

import (
	"runtime"
	"runtime/debug"
)

// VersionInfo is the output of `ccci-compose version`.
type VersionInfo struct {
	DockerCLI string `json:"dockerCli"`
	Swarmkit  string `json:"swarmkit"`
	YAML      string `json:"yaml"`
	Go        string `json:"go"`
}

// Versions reports the module versions this binary was built with.
func Versions() VersionInfo {
	v := VersionInfo{Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, dep := range info.Deps {
		if dep.Replace != nil {
			dep = dep.Replace
		}
		switch dep.Path {
		case "github.com/docker/cli":
			v.DockerCLI = dep.Version
		case "github.com/moby/swarmkit/v2":
			v.Swarmkit = dep.Version
		case "go.yaml.in/yaml/v3":
			v.YAML = dep.Version
		}
	}
	return v
}
