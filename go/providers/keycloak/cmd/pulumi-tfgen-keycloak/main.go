// Command pulumi-tfgen-keycloak generates the Pulumi schema (and bridge metadata) that the
// provider binary embeds: `pulumi-tfgen-keycloak schema --out <dir>`.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"cc-ci/pulumi-resource-keycloak/pkg/version"
	keycloak "cc-ci/pulumi-resource-keycloak/provider"
)

func main() {
	tfgen.Main("keycloak", version.Version, keycloak.Provider())
}
