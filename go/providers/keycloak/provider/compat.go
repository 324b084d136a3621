package provider

// Two properties that the @pulumi/keycloak 6.x SDK has and the 2022 upstream lacks are added here
// on top of the upstream resources, with the newer upstream's semantics, because this project's
// program uses them:
//
//   - keycloak_openid_client.valid_post_logout_redirect_uris (SDK: validPostLogoutRedirectUris):
//     the client attribute "post.logout.redirect.uris", URIs joined with "##".
//   - keycloak_realm.terraform_deletion_protection (SDK: terraformDeletionProtection): when
//     true, deleting the realm fails instead of deleting it.
//
// Everything else the 6.x SDK has beyond the 2022 upstream is absent (see ../../README.md).

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-sdk/v2/diag"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/mrparkers/terraform-provider-keycloak/keycloak"
)

const postLogoutRedirectUrisAttr = "post.logout.redirect.uris"

// addCompatFields patches the upstream provider's resource schemas in place.
func addCompatFields(p *schema.Provider) *schema.Provider {
	addClientPostLogoutRedirectUris(p.ResourcesMap["keycloak_openid_client"])
	addRealmDeletionProtection(p.ResourcesMap["keycloak_realm"])
	return p
}

func addClientPostLogoutRedirectUris(r *schema.Resource) {
	r.Schema["valid_post_logout_redirect_uris"] = &schema.Schema{
		Type:        schema.TypeSet,
		Elem:        &schema.Schema{Type: schema.TypeString},
		Set:         schema.HashString,
		Optional:    true,
		Description: "A list of valid URIs a browser is permitted to redirect to after a successful logout.",
	}
	create, read, update := r.CreateContext, r.ReadContext, r.UpdateContext
	// Upstream's create and update PUT the client without this attribute, which Keycloak leaves
	// as it was; write it afterwards (an empty value removes it) and read it back.
	write := func(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
		kc := meta.(*keycloak.KeycloakClient)
		client, err := kc.GetOpenidClient(ctx, d.Get("realm_id").(string), d.Id())
		if err != nil {
			return diag.FromErr(err)
		}
		var uris []string
		for _, u := range d.Get("valid_post_logout_redirect_uris").(*schema.Set).List() {
			uris = append(uris, u.(string))
		}
		sort.Strings(uris)
		if client.Attributes.ExtraConfig == nil {
			client.Attributes.ExtraConfig = map[string]interface{}{}
		}
		client.Attributes.ExtraConfig[postLogoutRedirectUrisAttr] = strings.Join(uris, "##")
		if err := kc.UpdateOpenidClient(ctx, client); err != nil {
			return diag.FromErr(err)
		}
		return readPostLogoutRedirectUris(ctx, d, meta)
	}
	r.CreateContext = func(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
		if diags := create(ctx, d, meta); diags.HasError() || d.Id() == "" {
			return diags
		}
		return write(ctx, d, meta)
	}
	r.UpdateContext = func(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
		if diags := update(ctx, d, meta); diags.HasError() || d.Id() == "" {
			return diags
		}
		return write(ctx, d, meta)
	}
	r.ReadContext = func(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
		// Upstream's read clears the id when the client is gone.
		if diags := read(ctx, d, meta); diags.HasError() || d.Id() == "" {
			return diags
		}
		return readPostLogoutRedirectUris(ctx, d, meta)
	}
}

func readPostLogoutRedirectUris(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	kc := meta.(*keycloak.KeycloakClient)
	client, err := kc.GetOpenidClient(ctx, d.Get("realm_id").(string), d.Id())
	if err != nil {
		return diag.FromErr(err)
	}
	uris := []interface{}{}
	if v, ok := client.Attributes.ExtraConfig[postLogoutRedirectUrisAttr].(string); ok && v != "" {
		for _, u := range strings.Split(v, "##") {
			uris = append(uris, u)
		}
	}
	if err := d.Set("valid_post_logout_redirect_uris", uris); err != nil {
		return diag.FromErr(err)
	}
	return nil
}

func addRealmDeletionProtection(r *schema.Resource) {
	r.Schema["terraform_deletion_protection"] = &schema.Schema{
		Type:        schema.TypeBool,
		Optional:    true,
		Default:     false,
		Description: "When set to true, the realm cannot be deleted. Defaults to false.",
	}
	del := r.DeleteContext
	r.DeleteContext = func(ctx context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
		if d.Get("terraform_deletion_protection").(bool) {
			return diag.FromErr(fmt.Errorf("realm %q has terraform_deletion_protection enabled and cannot be deleted",
				d.Get("realm").(string)))
		}
		return del(ctx, d, meta)
	}
}
