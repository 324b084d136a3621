// The run's mailbox, read from its mail catcher's API (Mailpit: the messages it holds, newest
// first): it must hold exactly the notice the app sent to the test user, and nothing of another run.
"use strict";
/* global process, console, fetch, AbortSignal */

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { env } = require("./env.js");

(async () => {
  const res = await fetch(`${env("CI_DEP_MAIL_API_URL")}/api/v1/messages`, {
    signal: AbortSignal.timeout(20000),
  });
  if (!res.ok) throw new Error(`the mail catcher answered ${res.status}`);
  const m = await res.json();
  const want = {
    total: 1,
    to: `${env("CI_TEST_USER")}@${env("CI_DEP_MAIL_DOMAIN")}`,
    subject: "hello.txt was stored",
  };
  const got = { total: m.total, to: m.messages?.[0]?.To?.[0]?.Address, subject: m.messages?.[0]?.Subject };
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`the mailbox holds ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
  }
  console.log(`files: the notice reached ${got.to}`);
})().catch((e) => {
  console.error(`files: ${e.message}`);
  process.exit(1);
});
