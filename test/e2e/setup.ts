// A Keycloak start on 2 shared cores takes minutes; a test with several runs takes longer.
jest.setTimeout(30 * 60_000);
