// A real login, as a person would do it, in headless Chromium: the app sends the browser to the
// run realm's login page, the test user signs in there, and the browser comes back to the app,
// which now lets it through to the private backend and names the user. It only works when the app
// itself holds the run's issuer, client id and client secret (it exchanges the code for tokens).
// A screenshot of the logged-in page goes to /artifacts, which the run keeps.
"use strict";
/* global process, console */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { launch } = require("cc-ci-browser");

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

(async () => {
  const app = env("CI_APP_URL");
  const issuer = env("CI_OIDC_ISSUER");
  const user = env("CI_TEST_USER");
  const browser = await launch();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${app}/private/page`);
    // Keycloak's login form, at the run's realm.
    await page.waitForSelector("#username");
    if (!page.url().startsWith(`${issuer}/`))
      throw new Error(`login page at ${page.url()}, not the run's realm ${issuer}`);
    await page.fill("#username", user);
    await page.fill("#password", env("CI_TEST_PASSWORD"));
    await Promise.all([page.waitForURL(`${app}/**`), page.click("#kc-login")]);
    const body = await page.textContent("body");
    if (!body.includes(`Name: ${env("CI_STACK_NAME")}_backend`))
      throw new Error(`after the login the backend did not answer: ${body.slice(0, 500)}`);
    const who = /X-Forwarded-Preferred-Username: (\S+)/i.exec(body)?.[1];
    if (who !== user) throw new Error(`the app let in ${who ?? "nobody"}, not ${user}`);
    console.log(`sso: ${user} logged in through ${issuer} with a browser, and the app let them in`);
    // Left for people to read: the run's artifacts (and its page) show what the browser saw.
    await page.screenshot({ path: "/artifacts/logged-in.png", fullPage: true });
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(`sso (browser): ${e.message}`);
  process.exit(1);
});
