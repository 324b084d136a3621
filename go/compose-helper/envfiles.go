package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/compose/template"
)

// maxEnvFileBytes bounds an env_file Docker's loader may read for a recipe.
const maxEnvFileBytes = 1 << 20

// guardEnvFiles is the one departure from Docker's loader, and it is for safety: Docker's loader reads
// every services.*.env_file from disk, relative to the working dir, following symlinks. A recipe comes
// from a pull request, so before Docker sees the document each entry must name a regular file of at most
// 1 MiB inside the working dir once every symlink is resolved. Entries that do not are reported and
// removed from the dict (so Docker never opens them); the rest is left as written. The check resolves
// ${VAR} as Docker will (template.Substitute with the same env).
func guardEnvFiles(dict map[string]any, workingDir string, env map[string]string) []Problem {
	services, _ := dict["services"].(map[string]any)
	if len(services) == 0 {
		return nil
	}
	root, rootErr := filepath.EvalSymlinks(workingDir)
	var out []Problem
	for name, raw := range services {
		svc, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		entries, isList := svc["env_file"].([]any)
		if one, isString := svc["env_file"].(string); isString {
			entries = []any{one}
		} else if !isList {
			continue
		}
		kept := []any{}
		for i, e := range entries {
			s, _ := e.(string)
			path := []string{"services", name, "env_file"}
			if isList {
				path = append(path, fmt.Sprint(i))
			}
			if rootErr != nil {
				out = append(out, Problem{Kind: "file", Message: fmt.Sprintf("env_file %s: the recipe folder cannot be resolved", s), Path: joinPath(path)})
				continue
			}
			if why := envFileRefused(s, root, env); why != "" {
				out = append(out, Problem{Kind: "file", Message: fmt.Sprintf("env_file %s: %s", s, why), Path: joinPath(path)})
				continue
			}
			kept = append(kept, e)
		}
		if len(kept) == len(entries) {
			continue
		}
		if len(kept) == 0 {
			delete(svc, "env_file")
		} else {
			svc["env_file"] = kept
		}
	}
	return out
}

// envFileRefused says why an env_file entry may not be read, or "" when it may.
func envFileRefused(entry, root string, env map[string]string) string {
	resolved, err := template.Substitute(entry, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		return "cannot be resolved"
	}
	abs := resolved
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(root, abs)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "does not exist in the recipe"
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "is outside the recipe folder"
	}
	st, err := os.Stat(real)
	if err != nil || !st.Mode().IsRegular() {
		return "is not a regular file"
	}
	if st.Size() > maxEnvFileBytes {
		return fmt.Sprintf("is %d bytes; at most %d are read", st.Size(), maxEnvFileBytes)
	}
	return ""
}
