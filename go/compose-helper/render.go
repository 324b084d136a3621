package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/moby/swarmkit/v2/agent/configs"
	"github.com/moby/swarmkit/v2/agent/exec"
	"github.com/moby/swarmkit/v2/agent/secrets"
	"github.com/moby/swarmkit/v2/api"
	swarmtemplate "github.com/moby/swarmkit/v2/template"
)

// RenderRequest is the input of `ccci-compose render`.
type RenderRequest struct {
	Items []RenderItem `json:"items"`
}

// RenderItem is one config with `template_driver: golang`, and the task it is rendered for.
type RenderItem struct {
	ID       string `json:"id"`
	Template string `json:"template"`
	// Env is the container's environment as the service spec has it ("K=V").
	Env []string `json:"env"`
	// Secrets maps a secret's target file name in the container (compose: the `target`, else the secret's
	// key) to its content: what {{ secret "name" }} returns.
	Secrets map[string]string `json:"secrets"`
	// Configs likewise for {{ config "name" }} (the raw content; Docker does not render a config inside
	// another).
	Configs map[string]string `json:"configs"`
	Service RenderService     `json:"service"`
	Node    RenderNode        `json:"node"`
	Task    RenderTask        `json:"task"`
}

type RenderService struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

type RenderNode struct {
	ID       string         `json:"id"`
	Hostname string         `json:"hostname"`
	Platform RenderPlatform `json:"platform"`
}

type RenderPlatform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
}

type RenderTask struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slot uint64 `json:"slot"`
}

type RenderResponse struct {
	Items []RenderResult `json:"items"`
}

type RenderResult struct {
	ID      string  `json:"id"`
	Content *string `json:"content,omitempty"`
	Error   *string `json:"error,omitempty"`
}

// Render renders each item as dockerd does for a config with `template_driver: golang`.
func Render(req RenderRequest) (*RenderResponse, error) {
	resp := &RenderResponse{Items: make([]RenderResult, 0, len(req.Items))}
	for i, item := range req.Items {
		if item.ID == "" {
			return nil, badRequest("items[%d] has no id", i)
		}
		content, err := renderOne(item)
		r := RenderResult{ID: item.ID}
		if err != nil {
			msg := err.Error()
			r.Error = &msg
		} else {
			r.Content = &content
		}
		resp.Items = append(resp.Items, r)
	}
	return resp, nil
}

// dependencies is the agent's store of secrets and configs (what dockerd's executor keeps and hands,
// restricted to the task, to swarmkit's templated getter).
type dependencies struct {
	secrets exec.SecretsManager
	configs exec.ConfigsManager
}

func (d dependencies) Secrets() exec.SecretGetter { return d.secrets }
func (d dependencies) Configs() exec.ConfigGetter { return d.configs }
func (d dependencies) Volumes() exec.VolumeGetter { return nil }

// renderOne follows dockerd (daemon/cluster/executor/container): the executor's Controller builds
// template.NewTemplatedDependencyGetter(agent.Restrict(deps, task), task, nil) — with a nil node
// description — then the container config expands the task's ContainerSpec (env, mounts, hostname) with
// template.ExpandContainerSpec(node, task) and stores it back into the same task; the config is fetched
// through the templated getter when the container is created, which renders it with
// template.ExpandConfigSpec. So {{ env "X" }} sees the already expanded env, and {{ .Node.Hostname }} /
// {{ .Node.Platform.* }} are empty in configs (only .Node.ID, from the task, is set).
func renderOne(item RenderItem) (string, error) {
	if len(item.Template) > MaxConfigSize {
		return "", fmt.Errorf("the template is %d bytes, over the %d bytes a swarm config may hold", len(item.Template), MaxConfigSize)
	}
	if _, err := templateCalls(item.Template); err != nil {
		return "", fmt.Errorf("the template is refused: %v", err)
	}
	container := &api.ContainerSpec{Env: item.Env}

	secretStore := secrets.NewManager()
	for _, name := range slices.Sorted(maps.Keys(item.Secrets)) {
		id := "secret-" + name
		secretStore.Add(api.Secret{ID: id, Spec: api.SecretSpec{
			Annotations: api.Annotations{Name: name}, Data: []byte(item.Secrets[name]),
		}})
		container.Secrets = append(container.Secrets, &api.SecretReference{
			SecretID: id, SecretName: name,
			Target: &api.SecretReference_File{File: &api.FileTarget{Name: name, UID: "0", GID: "0", Mode: 0o444}},
		})
	}
	configStore := configs.NewManager()
	for _, name := range slices.Sorted(maps.Keys(item.Configs)) {
		id := "config-" + name
		configStore.Add(api.Config{ID: id, Spec: api.ConfigSpec{
			Annotations: api.Annotations{Name: name}, Data: []byte(item.Configs[name]),
		}})
		container.Configs = append(container.Configs, &api.ConfigReference{
			ConfigID: id, ConfigName: name,
			Target: &api.ConfigReference_File{File: &api.FileTarget{Name: name, UID: "0", GID: "0", Mode: 0o444}},
		})
	}
	// The config being rendered is one more config of the task; its ID (which Docker's error messages
	// name) is the item's id.
	renderedConfigID := item.ID
	if _, clash := item.Configs[strings.TrimPrefix(item.ID, "config-")]; clash && strings.HasPrefix(item.ID, "config-") {
		renderedConfigID = "rendered-" + item.ID
	}
	configStore.Add(api.Config{ID: renderedConfigID, Spec: api.ConfigSpec{
		Annotations: api.Annotations{Name: renderedConfigID},
		Data:        []byte(item.Template),
		Templating:  &api.Driver{Name: "golang"},
	}})
	container.Configs = append(container.Configs, &api.ConfigReference{
		ConfigID: renderedConfigID, ConfigName: renderedConfigID,
		Target: &api.ConfigReference_File{File: &api.FileTarget{Name: "/" + renderedConfigID, UID: "0", GID: "0", Mode: 0o444}},
	})

	task := &api.Task{
		ID:        item.Task.ID,
		ServiceID: item.Service.ID,
		NodeID:    item.Node.ID,
		Slot:      item.Task.Slot,
		Annotations: api.Annotations{
			Name: item.Task.Name,
		},
		ServiceAnnotations: api.Annotations{Name: item.Service.Name, Labels: item.Service.Labels},
		Spec:               api.TaskSpec{Runtime: &api.TaskSpec_Container{Container: container}},
	}
	node := &api.NodeDescription{
		Hostname: item.Node.Hostname,
		Platform: &api.Platform{OS: item.Node.Platform.OS, Architecture: item.Node.Platform.Architecture},
	}

	getter := swarmtemplate.NewTemplatedDependencyGetter(dependencies{secrets: secretStore, configs: configStore}, task, nil)
	prepared, err := swarmtemplate.ExpandContainerSpec(node, task)
	if err != nil {
		return "", err
	}
	task.Spec.Runtime = &api.TaskSpec_Container{Container: prepared}

	cfg, err := getter.Configs().Get(renderedConfigID)
	if err != nil {
		return "", err
	}
	if len(cfg.Spec.Data) > MaxConfigSize {
		return "", fmt.Errorf("the template renders to %d bytes, over the %d bytes a swarm config may hold", len(cfg.Spec.Data), MaxConfigSize)
	}
	return string(cfg.Spec.Data), nil
}
