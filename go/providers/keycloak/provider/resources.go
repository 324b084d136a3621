// Package provider maps the upstream Terraform keycloak provider onto Pulumi's keycloak package.
// The tokens and renames follow pulumi-keycloak's own mapping (its provider/resources.go: the
// standard token scheme over the modules index, ldap, oidc, openid, saml and authentication,
// plus a handful of explicit names), so that the schema matches the @pulumi/keycloak npm SDK the
// project pins: the SDK sends these tokens and property names over the wire, and any mismatch is
// a runtime error rather than a build error.
//
// The upstream here is github.com/mrparkers/terraform-provider-keycloak at upstream v4.0.1
// (2022), the only keycloak provider source the Go module proxy serves; pulumi-keycloak 6.x wraps
// the later github.com/keycloak/terraform-provider-keycloak. Resources and properties added
// upstream since 2022 are therefore absent (see ../../README.md for the list).
package provider

import (
	_ "embed"

	"github.com/mrparkers/terraform-provider-keycloak/provider"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	tks "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"cc-ci/pulumi-resource-keycloak/pkg/version"
)

const (
	keycloakPkg = "keycloak"
	mainMod     = "index"
	openIDMod   = "openid"
	samlMod     = "saml"
)

// bridge-metadata.json is written by tfgen next to this file at build time (the build seeds it
// with "{}" so that tfgen itself can compile).
//
//go:embed bridge-metadata.json
var bridgeMetadata []byte

func resource(mod, res string) tokens.Type { return tfbridge.MakeResource(keycloakPkg, mod, res) }

func dataSource(mod, fn string) tokens.ModuleMember {
	return tfbridge.MakeDataSource(keycloakPkg, mod, fn)
}

// allowMissingDocs marks resources whose upstream docs page is missing or misnamed.
var allowMissingDocs = &tfbridge.DocInfo{AllowMissing: true}

// Provider returns the bridge's description of the keycloak provider.
func Provider() tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(addCompatFields(provider.KeycloakProvider(nil))),
		Name:         "keycloak",
		Version:      version.Version,
		GitHubOrg:    "mrparkers",
		Description:  "A Pulumi package for creating and managing keycloak cloud resources.",
		Keywords:     []string{"pulumi", "keycloak"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-keycloak",
		MetadataInfo: tfbridge.NewProviderMetadata(bridgeMetadata),
		// tfgen reads upstream's docs from the patched copy that go.mod's replace points at
		// (relative to the module directory, where the build runs tfgen).
		UpstreamRepoPath: "./upstream",
		Config: map[string]*tfbridge.SchemaInfo{
			// pulumi-keycloak's default (upstream's is 15 s).
			"client_timeout": {
				Default: &tfbridge.DefaultInfo{
					Value:   5,
					EnvVars: []string{"KEYCLOAK_CLIENT_TIMEOUT"},
				},
			},
		},
		// Explicit names from pulumi-keycloak; everything else gets the standard token below.
		Resources: map[string]*tfbridge.ResourceInfo{
			"keycloak_attribute_to_role_identity_provider_mapper": {
				Tok:  resource(mainMod, "AttributeToRoleIdentityMapper"),
				Docs: allowMissingDocs,
			},
			"keycloak_custom_identity_provider_mapper": {
				Tok: resource(mainMod, "CustomIdentityProviderMapping"),
			},
			"keycloak_default_roles": {
				Fields: map[string]*tfbridge.SchemaInfo{
					"default_roles": {CSharpName: "RoleNames"},
				},
			},
			"keycloak_hardcoded_attribute_identity_provider_mapper": {
				Tok:  resource(mainMod, "HardcodedAttributeIdentityProviderMapper"),
				Docs: allowMissingDocs,
			},
			"keycloak_hardcoded_role_identity_provider_mapper": {
				Tok:  resource(mainMod, "HardcodedRoleIdentityMapper"),
				Docs: allowMissingDocs,
			},
			"keycloak_realm": {
				Fields: map[string]*tfbridge.SchemaInfo{
					"realm": {CSharpName: "RealmName"},
				},
			},
			"keycloak_users_permissions":                      {Docs: allowMissingDocs},
			"keycloak_realm_keystore_java_keystore":           {Tok: resource(mainMod, "RealmKeystoreJavaGenerated")},
			"keycloak_ldap_hardcoded_group_mapper":            {Docs: allowMissingDocs},
			"keycloak_openid_client_authorization_scope":      {Docs: allowMissingDocs},
			"keycloak_openid_client_authorization_permission": {Docs: allowMissingDocs},
			"keycloak_openid_client_authorization_resource":   {Docs: allowMissingDocs},
			"keycloak_openid_client_aggregate_policy":         {Docs: allowMissingDocs},
			"keycloak_openid_client_client_policy":            {Tok: resource(openIDMod, "ClientPolicy")},
			"keycloak_openid_client_group_policy":             {Docs: allowMissingDocs},
			"keycloak_openid_client_js_policy":                {Docs: allowMissingDocs},
			"keycloak_openid_client_role_policy":              {Docs: allowMissingDocs},
			"keycloak_openid_client_time_policy":              {Docs: allowMissingDocs},
			"keycloak_openid_client_user_policy":              {Docs: allowMissingDocs},
			"keycloak_openid_client_permissions":              {Docs: allowMissingDocs},
			"keycloak_saml_client_default_scopes":             {Tok: resource(samlMod, "ClientDefaultScope")},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"keycloak_authentication_execution": {Tok: dataSource(mainMod, "getAuthenticationExecution")},
			"keycloak_authentication_flow":      {Tok: dataSource(mainMod, "getAuthenticationFlow")},
		},
	}

	// keycloak_openid_client -> keycloak:openid/client:Client,
	// keycloak_user -> keycloak:index/user:User, and so on.
	prov.MustComputeTokens(tks.KnownModules("keycloak_", mainMod, []string{
		"ldap_",
		"oidc_",
		"openid_",
		"saml_",
		"authentication_",
	}, tks.MakeStandard(keycloakPkg)))

	// Resources with a "name" get a random-suffixed default name, as in pulumi-keycloak.
	prov.SetAutonaming(255, "-")

	return prov
}
