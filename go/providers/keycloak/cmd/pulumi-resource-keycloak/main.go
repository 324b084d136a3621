// Command pulumi-resource-keycloak is the Pulumi resource plugin for the keycloak package.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"cc-ci/pulumi-resource-keycloak/pkg/version"
	keycloak "cc-ci/pulumi-resource-keycloak/provider"
)

// schema.json is written by pulumi-tfgen-keycloak at build time; it is not kept in git.
//
//go:embed schema.json
var pulumiSchema []byte

func main() {
	tfbridge.Main("keycloak", version.Version, keycloak.Provider(), pulumiSchema)
}
