package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A recipe's env_file may name only regular files inside the recipe: Docker's loader would read any path.
func TestEnvFilesStayInsideTheRecipe(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "host-secret")
	must(t, os.WriteFile(outside, []byte("CANARY=host-file-content\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(root, "ok.env"), []byte("GOOD=1\n"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(root, "link.env")))
	must(t, syscall.Mkfifo(filepath.Join(root, "fifo.env"), 0o644))
	compose := `version: "3.8"
services:
  app:
    image: nginx
    env_file:
      - ok.env
      - link.env
      - ../x.env
      - fifo.env
      - ${WHERE}
`
	resp, err := Load(LoadRequest{
		WorkingDir: root,
		Env:        map[string]string{"WHERE": outside},
		Files:      []FileIn{{Name: "compose.yml", Content: compose}},
	})
	must(t, err)
	var msgs []string
	for _, p := range resp.Problems {
		if p.Kind == "file" {
			msgs = append(msgs, p.Message)
			if p.File != "compose.yml" || p.Line == 0 {
				t.Errorf("problem without a position: %+v", p)
			}
		}
	}
	want := []string{
		"env_file link.env: is outside the recipe folder",
		"env_file ../x.env: does not exist in the recipe",
		"env_file fifo.env: is not a regular file",
		"env_file ${WHERE}: is outside the recipe folder",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	// Docker read the good file and nothing else.
	cfg := resp.Config.(map[string]any)
	env := cfg["services"].(map[string]any)["app"].(map[string]any)["environment"].(map[string]any)
	if env["GOOD"] != "1" || env["CANARY"] != nil {
		t.Fatalf("environment: %v", env)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
