package main

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	base := RenderItem{
		Env:     []string{"MODE=prod", "EMPTY=", "DOMAIN=example.com", "WITH_TEMPLATE={{.Service.Name}}-{{.Task.Slot}}"},
		Secrets: map[string]string{"db_password": "s3cret"},
		Configs: map[string]string{"other": `raw {{ env "MODE" }}`},
		Service: RenderService{ID: "svc1", Name: "stack_app", Labels: map[string]string{"tier": "web"}},
		Node:    RenderNode{ID: "node1", Hostname: "worker-1", Platform: RenderPlatform{OS: "linux", Architecture: "x86_64"}},
		Task:    RenderTask{ID: "task1", Slot: 2},
	}
	for _, tc := range []struct {
		name, template, want, wantErr string
		edit                          func(*RenderItem)
	}{
		{name: "if eq", template: `{{ if eq (env "MODE") "prod" }}on{{ else }}off{{ end }}`, want: "on"},
		{name: "if eq else", template: `{{ if eq (env "MODE") "dev" }}on{{ else }}off{{ end }}`, want: "off"},
		{name: "env unset is empty", template: `[{{ env "NOT_SET" }}]`, want: "[]"},
		{name: "if on unset env", template: `{{ if env "NOT_SET" }}set{{ else }}unset{{ end }}`, want: "unset"},
		{name: "if on empty env", template: `{{ if env "EMPTY" }}set{{ else }}empty{{ end }}`, want: "empty"},
		{name: "env expanded first", template: `{{ env "WITH_TEMPLATE" }}`, want: "stack_app-2"},
		{name: "secret", template: `pw={{ secret "db_password" }}`, want: "pw=s3cret"},
		{name: "config is not rendered", template: `{{ config "other" }}`, want: `raw {{ env "MODE" }}`},
		{name: "context", template: `{{.Service.ID}} {{.Service.Name}} {{index .Service.Labels "tier"}} {{.Task.ID}} {{.Task.Name}} {{.Task.Slot}} {{.Node.ID}}`,
			want: "svc1 stack_app web task1 stack_app.2.task1 2 node1"},
		// dockerd passes no node description when it renders configs.
		{name: "node hostname is empty in configs", template: `[{{.Node.Hostname}}] [{{.Node.Platform.OS}}]`, want: "[] []"},
		// ...but the container's env, expanded first, has them.
		{name: "node hostname through env", template: `{{ env "H" }}`, want: "worker-1/linux",
			edit: func(i *RenderItem) { i.Env = []string{"H={{.Node.Hostname}}/{{.Node.Platform.OS}}"} }},
		{name: "global task slot is the node id", template: `{{.Task.Slot}} {{.Task.Name}}`, want: "node1 stack_app.node1.task1",
			edit: func(i *RenderItem) { i.Task.Slot = 0 }},
		{name: "task name given", template: `{{.Task.Name}}`, want: "stack_app.2.abc", edit: func(i *RenderItem) { i.Task.Name = "stack_app.2.abc" }},
		{name: "builtins", template: `{{ printf "%03d" 7 }} {{ len "abc" }} {{ and 1 0 }} {{ or 0 "x" }} {{ not true }} {{ html "<a>" }} {{ join "," "a" "b" }} {{ slice "abc" 1 }} {{ range $k, $v := .Service.Labels }}{{$k}}={{$v}}{{ end }} {{ range 2 }}.{{ end }}`,
			want: "007 3 0 x false &lt;a&gt; a,b bc tier=web .."},
		{name: "variables and with", template: `{{ $d := env "DOMAIN" }}{{ with $d }}https://{{ . }}{{ end }}`, want: "https://example.com"},
		{name: "whitespace trim", template: "a\n  {{- \"b\" -}}  \nc", want: "abc"},
		{name: "unknown secret", template: `{{ secret "nope" }}`, wantErr: "secret target nope not found"},
		{name: "missing label", template: `{{ .Service.Labels.missing }}`, wantErr: `map has no entry for key "missing"`},
		{name: "syntax error", template: `{{ if }}`, wantErr: "missing value for if"},
		{name: "unclosed if", template: `{{ if true }}x`, wantErr: "unexpected EOF"},
		{name: "unknown function", template: `{{ nope }}`, wantErr: `function "nope" not defined`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			item := base
			item.ID = "cfg-" + strings.ReplaceAll(tc.name, " ", "-")
			item.Template = tc.template
			if tc.edit != nil {
				tc.edit(&item)
			}
			resp, err := Render(RenderRequest{Items: []RenderItem{item}})
			if err != nil {
				t.Fatal(err)
			}
			got := resp.Items[0]
			if got.ID != item.ID {
				t.Errorf("id %q", got.ID)
			}
			switch {
			case tc.wantErr != "":
				if got.Error == nil || !strings.Contains(*got.Error, tc.wantErr) {
					t.Errorf("error = %v, want one containing %q (content %v)", deref2(got.Error), tc.wantErr, deref2(got.Content))
				}
				if got.Error != nil && !strings.HasPrefix(*got.Error, "failed to expand templated config "+item.ID+": ") {
					t.Errorf("error not as dockerd words it: %s", *got.Error)
				}
			case got.Error != nil:
				t.Errorf("error %s", *got.Error)
			case *got.Content != tc.want:
				t.Errorf("content = %q, want %q", *got.Content, tc.want)
			}
		})
	}
}

func deref2(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
