export { Traefik, type TraefikArgs, ENTRYPOINTS } from "./traefik";
export { Keycloak, type KeycloakArgs } from "./keycloak";
export { WarmLayer, type WarmLayerArgs, warmPrefix } from "./warmLayer";
export { RunRealm, type RunRealmArgs, RUN_ATTRIBUTE } from "./runRealm";
export { RecipeApp, type RecipeAppArgs } from "./recipeApp";
export { CiRun, type CiRunArgs } from "./ciRun";
