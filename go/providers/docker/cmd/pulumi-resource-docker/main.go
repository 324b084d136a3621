// Command pulumi-resource-docker is the Pulumi resource plugin for the docker package.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"cc-ci/pulumi-resource-docker/pkg/version"
	docker "cc-ci/pulumi-resource-docker/provider"
)

// schema.json is written by pulumi-tfgen-docker at build time; it is not kept in git.
//
//go:embed schema.json
var pulumiSchema []byte

func main() {
	tfbridge.Main("docker", version.Version, docker.Provider(), pulumiSchema)
}
