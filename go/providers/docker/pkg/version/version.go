// Package version holds the provider version, set at link time with
// -ldflags "-X cc-ci/pulumi-resource-docker/pkg/version.Version=<ver>".
// The Pulumi CLI asks the plugin for exactly the version named in
// node_modules/@pulumi/docker/package.json, so the build stamps that one.
package version

var Version = "0.0.0-dev"
