// Package provider maps the upstream Terraform docker provider (kreuzwerker) onto Pulumi's
// docker package. The tokens and renames follow pulumi-docker's own mapping, so that the
// schema matches the @pulumi/docker npm SDK the project pins: the SDK sends these tokens and
// property names over the wire, and any mismatch is a runtime error rather than a build error.
package provider

import (
	_ "embed"
	"unicode"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-providers/terraform-provider-docker/shim"

	"cc-ci/pulumi-resource-docker/pkg/version"
)

const (
	dockerPkg = "docker"
	dockerMod = "index"
)

// bridge-metadata.json is written by tfgen next to this file at build time (the build seeds it
// with "{}" so that tfgen itself can compile).
//
//go:embed bridge-metadata.json
var bridgeMetadata []byte

// dockerResource builds a token such as docker:index/remoteImage:RemoteImage.
func dockerResource(res string) tokens.Type {
	return tokens.Type(dockerPkg + ":" + dockerMod + "/" + lowerFirst(res) + ":" + res)
}

// dockerDataSource builds a token such as docker:index/getNetwork:getNetwork.
func dockerDataSource(fn string) tokens.ModuleMember {
	return tokens.ModuleMember(dockerPkg + ":" + dockerMod + "/" + lowerFirst(fn) + ":" + fn)
}

func lowerFirst(s string) string {
	return string(unicode.ToLower(rune(s[0]))) + s[1:]
}

// Provider returns the bridge's description of the docker provider.
func Provider() tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(shim.NewProvider()),
		Name:         "docker",
		Version:      version.Version,
		Description:  "A Pulumi package for interacting with Docker in Pulumi programs",
		Keywords:     []string{"pulumi", "docker"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-docker",
		MetadataInfo: tfbridge.NewProviderMetadata(bridgeMetadata),
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {
				Default: &tfbridge.DefaultInfo{
					Value:   "unix:///var/run/docker.sock",
					EnvVars: []string{"DOCKER_HOST"},
				},
			},
			// A list in Terraform, but the SDK names it in the singular.
			"registry_auth": {
				Name:        "registryAuth",
				MaxItemsOne: tfbridge.False(),
			},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_buildx_builder": {Tok: dockerResource("BuildxBuilder")},
			"docker_config":         {Tok: dockerResource("ServiceConfig")},
			"docker_container": {
				Tok: dockerResource("Container"),
				// A container name is unique per daemon, so a replacement must delete first.
				DeleteBeforeReplace: true,
				Fields: map[string]*tfbridge.SchemaInfo{
					// Lists that the SDK keeps in the singular.
					"command":           {Name: "command"},
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			"docker_image": {
				Tok:    dockerResource("RemoteImage"),
				Fields: map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}},
			},
			"docker_network":        {Tok: dockerResource("Network")},
			"docker_plugin":         {Tok: dockerResource("Plugin")},
			"docker_registry_image": {Tok: dockerResource("RegistryImage")},
			"docker_secret":         {Tok: dockerResource("Secret")},
			"docker_service":        {Tok: dockerResource("Service")},
			"docker_tag":            {Tok: dockerResource("Tag")},
			"docker_volume":         {Tok: dockerResource("Volume")},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_image":                    {Tok: dockerDataSource("getRemoteImage")},
			"docker_logs":                     {Tok: dockerDataSource("getLogs")},
			"docker_network":                  {Tok: dockerDataSource("getNetwork")},
			"docker_plugin":                   {Tok: dockerDataSource("getPlugin")},
			"docker_registry_image":           {Tok: dockerDataSource("getRegistryImage")},
			"docker_registry_image_manifests": {Tok: dockerDataSource("getRegistryImageManifests")},
		},
	}

	// Resources with a "name" get a random-suffixed default name, as in pulumi-docker.
	prov.SetAutonaming(255, "-")

	return prov
}
