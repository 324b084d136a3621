// The run's values the file-sharing example's checks read (share.js, mailbox.js): a missing one is
// an error naming it.
"use strict";
/* global process */

module.exports.env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
