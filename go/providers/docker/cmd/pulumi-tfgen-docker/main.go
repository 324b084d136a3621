// Command pulumi-tfgen-docker generates the Pulumi schema (and bridge metadata) that the
// provider binary embeds: `pulumi-tfgen-docker schema --out <dir>`.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"cc-ci/pulumi-resource-docker/pkg/version"
	docker "cc-ci/pulumi-resource-docker/provider"
)

func main() {
	tfgen.Main("docker", version.Version, docker.Provider())
}
