#!/usr/bin/env node
// extract-webhooks.js writes GitHub's recorded webhook examples that
// gatehouse's tests start from, one payload per file, into testdata/webhooks.
//
// Usage:
//   scripts/extract-webhooks.js [path/to/api.github.com/index.json] [outdir]
//
// Without arguments it fetches the pinned @octokit/webhooks-examples package
// with `npm pack` into a temporary directory (npm registry only). Each wanted
// event/action gets testdata/webhooks/<event>.<action>.json (push and ping,
// which have no action: <event>.json), holding the full recorded payload of
// one example. An example that carries an `installation` (what a GitHub App
// receives) is preferred over one that does not. The choices, with the index
// of each example in the package, are written to
// testdata/webhooks/manifest.json. No dependencies beyond node itself.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

// PACKAGE is the npm package and version the examples come from.
const PACKAGE = "@octokit/webhooks-examples@7.6.1";

// WANTED lists the examples to extract: file stem, event, and a predicate on
// the example (its action, or something else for action-less events).
const WANTED = [
  ["pull_request.opened", "pull_request", (e) => e.action === "opened"],
  ["pull_request.synchronize", "pull_request", (e) => e.action === "synchronize"],
  ["pull_request.reopened", "pull_request", (e) => e.action === "reopened"],
  ["pull_request.ready_for_review", "pull_request", (e) => e.action === "ready_for_review"],
  ["pull_request.closed", "pull_request", (e) => e.action === "closed"],
  // A branch push with commits: the normal case.
  ["push", "push", (e) => e.ref.startsWith("refs/heads/") && !e.deleted && e.commits.length > 0],
  // A deletion (after is all zeros). The package only records tag deletions.
  ["push.deleted", "push", (e) => e.deleted && /^0+$/.test(e.after)],
  ["check_run.rerequested", "check_run", (e) => e.action === "rerequested"],
  ["check_suite.rerequested", "check_suite", (e) => e.action === "rerequested"],
  ["issue_comment.created", "issue_comment", (e) => e.action === "created"],
  // A submitted review (the package records no approving one: tests set
  // review.state to "approved").
  ["pull_request_review.submitted", "pull_request_review", (e) => e.action === "submitted"],
  ["installation.created", "installation", (e) => e.action === "created"],
  ["installation.deleted", "installation", (e) => e.action === "deleted"],
  ["installation_repositories.added", "installation_repositories", (e) => e.action === "added"],
  ["ping", "ping", () => true],
  ["merge_group.checks_requested", "merge_group", (e) => e.action === "checks_requested"],
];

// DERIVED lists payloads the package does not record, built from a recorded
// one (file stem of WANTED) by a function: the fields GitHub documents for
// the event (the published webhook schema in @octokit/openapi) on the
// recorded repository, installation and sender.
const DERIVED = [
  // GitHub sends destroyed when a group merges, is invalidated or dequeued.
  ["merge_group.destroyed", "merge_group.checks_requested", (e) => ({
    action: "destroyed",
    reason: "dequeued",
    ...Object.fromEntries(Object.entries(e).filter(([k]) => k !== "action")),
  })],
  // A custom deployment protection rule's request: the package has no
  // deployment_protection_rule example at all.
  ["deployment_protection_rule.requested", "merge_group.checks_requested", (e) => ({
    action: "requested",
    environment: "production",
    event: "push",
    sha: e.merge_group.base_sha,
    ref: e.merge_group.base_ref,
    deployment_callback_url: `https://api.github.com/repos/${e.repository.full_name}/actions/runs/1234567890/deployment_protection_rule`,
    deployment: {
      url: `https://api.github.com/repos/${e.repository.full_name}/deployments/987654321`,
      id: 987654321,
      node_id: "DE_kwDOABCDEFzOOt5oMQ",
      sha: e.merge_group.base_sha,
      ref: e.merge_group.base_ref.replace(/^refs\/heads\//, ""),
      task: "deploy",
      payload: {},
      original_environment: "production",
      environment: "production",
      description: null,
      creator: e.sender,
      created_at: "2019-05-15T15:20:31Z",
      updated_at: "2019-05-15T15:20:31Z",
      statuses_url: `https://api.github.com/repos/${e.repository.full_name}/deployments/987654321/statuses`,
      repository_url: `https://api.github.com/repos/${e.repository.full_name}`,
      transient_environment: false,
      production_environment: true,
    },
    pull_requests: [],
    repository: e.repository,
    organization: e.organization,
    installation: e.installation,
    sender: e.sender,
  })],
];

const DEFAULT_OUT = path.join(__dirname, "..", "testdata", "webhooks");

// fetchExamples downloads PACKAGE with npm pack and returns the path of its
// api.github.com/index.json.
function fetchExamples() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "octokit-webhooks-"));
  const out = execFileSync("npm", ["pack", "--silent", PACKAGE], {
    cwd: dir,
    encoding: "utf8",
  });
  const tgz = out.trim().split("\n").pop();
  execFileSync("tar", ["xzf", tgz], { cwd: dir });
  return path.join(dir, "package", "api.github.com", "index.json");
}

// pick returns the index of the first example matching pred, preferring one
// with an installation and, for issue comments, one on a pull request.
function pick(examples, pred) {
  const candidates = examples
    .map((e, i) => [e, i])
    .filter(([e]) => pred(e));
  if (candidates.length === 0) return -1;
  const score = ([e]) =>
    (e.installation ? 2 : 0) + (e.issue && e.issue.pull_request ? 1 : 0);
  candidates.sort((a, b) => score(b) - score(a) || a[1] - b[1]);
  return candidates[0][1];
}

// removeFetched deletes the temporary directory a fetched file sits `up`
// levels below.
function removeFetched(file, up) {
  let dir = file;
  for (let i = 0; i < up; i++) dir = path.dirname(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

function main() {
  const indexPath = process.argv[2] || fetchExamples();
  const outDir = process.argv[3] || DEFAULT_OUT;
  const defs = JSON.parse(fs.readFileSync(indexPath, "utf8"));
  if (!process.argv[2]) removeFetched(indexPath, 3);
  const byName = Object.fromEntries(defs.map((d) => [d.name, d]));

  fs.mkdirSync(outDir, { recursive: true });
  const manifest = {
    package: PACKAGE,
    source: "api.github.com/index.json",
    generator: "scripts/extract-webhooks.js",
    files: {},
  };
  for (const [stem, event, pred] of WANTED) {
    const def = byName[event];
    if (!def) throw new Error(`event not in package: ${event}`);
    const i = pick(def.examples, pred);
    if (i < 0) throw new Error(`no example for ${stem}`);
    const example = def.examples[i];
    const file = `${stem}.json`;
    fs.writeFileSync(
      path.join(outDir, file),
      JSON.stringify(example, null, 2) + "\n",
    );
    manifest.files[file] = {
      event,
      action: example.action || null,
      exampleIndex: i,
      hasInstallation: Boolean(example.installation),
    };
  }
  for (const [stem, from, build] of DERIVED) {
    const src = JSON.parse(fs.readFileSync(path.join(outDir, `${from}.json`), "utf8"));
    const example = build(src);
    const file = `${stem}.json`;
    fs.writeFileSync(
      path.join(outDir, file),
      JSON.stringify(example, null, 2) + "\n",
    );
    manifest.files[file] = {
      event: stem.split(".")[0],
      action: example.action,
      derivedFrom: `${from}.json`,
      hasInstallation: Boolean(example.installation),
    };
  }
  fs.writeFileSync(
    path.join(outDir, "manifest.json"),
    JSON.stringify(manifest, null, 2) + "\n",
  );
  console.log(`wrote ${WANTED.length + DERIVED.length} examples to ${outDir}`);
}

main();
