export { Traefik, type TraefikArgs, ENTRYPOINTS } from "./traefik";
export { Keycloak, type KeycloakArgs } from "./keycloak";
export { WarmLayer, type WarmLayerArgs } from "./warmLayer";
export { RunRealm, type RunRealmArgs } from "./runRealm";
export { RecipeApp, type RecipeAppArgs } from "./recipeApp";
export { CiRun, type CiRunArgs } from "./ciRun";
