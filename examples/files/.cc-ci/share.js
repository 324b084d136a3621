// A person's session, in headless Chromium: log in through the run's realm, upload a file through
// the app, read it back, and see it listed as the test user's.
"use strict";
/* global process, console, fetch */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { launch } = require("cc-ci-browser");

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { env } = require("./env.js");

(async () => {
  const app = env("CI_APP_URL");
  const user = env("CI_TEST_USER");
  const content = `shared by ${user} in ${env("CI_RUN_ID")}`;
  const browser = await launch();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${app}/files`);
    await page.waitForSelector("#username");
    await page.fill("#username", user);
    await page.fill("#password", env("CI_TEST_PASSWORD"));
    await Promise.all([page.waitForURL(`${app}/**`), page.click("#kc-login")]);
    const got = await page.evaluate(async (text) => {
      const put = await fetch("/files/hello.txt", { method: "PUT", body: text });
      const back = await fetch("/files/hello.txt");
      const list = await fetch("/files");
      return { put: put.status, back: await back.text(), list: await list.text() };
    }, content);
    if (got.put !== 201) throw new Error(`upload answered ${got.put}`);
    if (got.back !== content)
      throw new Error(`read back ${JSON.stringify(got.back)}, not ${JSON.stringify(content)}`);
    if (!got.list.split("\n").includes(`hello.txt ${content.length} ${user}`))
      throw new Error(`the listing does not show the upload as ${user}'s: ${got.list}`);
    console.log(`files: ${user} logged in, uploaded hello.txt and read it back through the app`);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(`files (browser): ${e.message}`);
  process.exit(1);
});
