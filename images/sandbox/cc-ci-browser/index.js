// cc-ci/sandbox helper: playwright-core driving Debian's chromium, headless, with the flags an
// unprivileged container needs. Usage from a test script:
//   const { launch } = require("cc-ci-browser");
//   const browser = await launch();          // same options as playwright's chromium.launch()
//   const page = await browser.newPage();
//   await page.goto(process.env.CI_APP_URL);
//   await browser.close();
// or use playwright-core directly: require("playwright-core").chromium.launch({ executablePath,
// args }) with the two exports below.
"use strict";
/* global process */
// Runs inside cc-ci/sandbox, where playwright-core is on NODE_PATH (CommonJS on purpose).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { chromium } = require("playwright-core");

const executablePath = process.env.CHROME_PATH || "/usr/bin/chromium";
// --no-sandbox: Chromium's sandbox needs user namespaces, which Docker's default seccomp profile
// refuses (playwright adds it too unless chromiumSandbox is true). --disable-dev-shm-usage: the
// container's /dev/shm is only 64 MB.
const args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"];

function launch(options = {}) {
  return chromium.launch({
    executablePath,
    headless: true,
    ...options,
    args: [...args, ...(options.args || [])],
  });
}

module.exports = { launch, executablePath, args, chromium };
