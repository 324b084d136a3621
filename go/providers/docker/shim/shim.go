// Package shim exposes the upstream SDKv2 provider, which lives in an internal package.
// Go allows the import because this module's path sits under the upstream module's path
// (github.com/terraform-providers/terraform-provider-docker/...): the internal rule is checked
// on import paths, so no copy of the upstream source is needed.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the SDKv2 half of the upstream provider. Pulumi's docker 5.x package
// bridges only this half: the framework half (docker_compose, two data sources, actions) has
// no counterpart in @pulumi/docker.
func NewProvider() *schema.Provider {
	return provider.New("dev")()
}
