#!/usr/bin/env node
// extract-openapi.js writes the subset of GitHub's published REST description
// that gatehouse calls, for the fake GitHub in internal/githubtest.
//
// Usage:
//   scripts/extract-openapi.js [path/to/api.github.com.json] [out.json]
//
// Without arguments it fetches the pinned @octokit/openapi package with
// `npm pack` into a temporary directory (npm registry only), reads
// generated/api.github.com.json and writes
// testdata/github/api.github.com.subset.json. Only the operations listed in
// OPERATIONS are kept, with every component they reference (transitively).
// Media-type `examples` are dropped: the fake builds its own responses, and
// they are most of the size. No dependencies beyond node itself.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

// PACKAGE is the npm package and version the subset is cut from. Bump it and
// rerun the script to follow GitHub's description.
const PACKAGE = "@octokit/openapi@23.0.2";

// OPERATIONS are the REST operations gatehouse calls, as "METHOD path".
const OPERATIONS = [
  "POST /app/installations/{installation_id}/access_tokens",
  "GET /app",
  "GET /app/installations",
  "GET /installation/repositories",
  "POST /repos/{owner}/{repo}/check-runs",
  "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
  "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
  "GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations",
  "GET /repos/{owner}/{repo}/contents/{path}",
  "GET /repos/{owner}/{repo}",
  "GET /repos/{owner}/{repo}/pulls/{pull_number}",
  "GET /repos/{owner}/{repo}/pulls/{pull_number}/files",
  "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
  "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments",
  "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
  "PATCH /repos/{owner}/{repo}/pulls/comments/{comment_id}",
  "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
  "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
  "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
  "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
  "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
  "GET /repos/{owner}/{repo}/compare/{basehead}",
  "GET /repos/{owner}/{repo}/tarball/{ref}",
  "POST /repos/{owner}/{repo}/code-scanning/sarifs",
  "POST /app-manifests/{code}/conversions",
  "POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule",
  "GET /app/hook/deliveries",
  "POST /app/hook/deliveries/{delivery_id}/attempts",
];

const DEFAULT_OUT = path.join(
  __dirname,
  "..",
  "testdata",
  "github",
  "api.github.com.subset.json",
);

// fetchSpec downloads PACKAGE with npm pack and returns the path of its
// generated/api.github.com.json.
function fetchSpec() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "octokit-openapi-"));
  const out = execFileSync("npm", ["pack", "--silent", PACKAGE], {
    cwd: dir,
    encoding: "utf8",
  });
  const tgz = out.trim().split("\n").pop();
  execFileSync("tar", ["xzf", tgz], { cwd: dir });
  return path.join(dir, "package", "generated", "api.github.com.json");
}

// resolvePointer follows a local JSON pointer ("#/components/...").
function resolvePointer(doc, ref) {
  if (!ref.startsWith("#/")) throw new Error(`non-local $ref ${ref}`);
  let node = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === undefined || !(key in node)) {
      throw new Error(`dangling $ref ${ref}`);
    }
    node = node[key];
  }
  return node;
}

// stripExamples removes media-type and parameter `examples` maps (and their
// $refs into components/examples) from a copy of node.
function stripExamples(node) {
  if (Array.isArray(node)) return node.map(stripExamples);
  if (node === null || typeof node !== "object") return node;
  const outNode = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "examples" && v && typeof v === "object" && !Array.isArray(v)) {
      continue;
    }
    outNode[k] = stripExamples(v);
  }
  return outNode;
}

// collectRefs adds to seen every "#/components/..." ref reachable from node.
function collectRefs(doc, node, seen) {
  if (Array.isArray(node)) {
    for (const v of node) collectRefs(doc, v, seen);
    return;
  }
  if (node === null || typeof node !== "object") return;
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string") {
      if (seen.has(v)) continue;
      seen.add(v);
      collectRefs(doc, stripExamples(resolvePointer(doc, v)), seen);
    } else {
      collectRefs(doc, v, seen);
    }
  }
}

// removeFetched deletes the temporary directory a fetched file sits `up`
// levels below.
function removeFetched(file, up) {
  let dir = file;
  for (let i = 0; i < up; i++) dir = path.dirname(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

function main() {
  const specPath = process.argv[2] || fetchSpec();
  const outPath = process.argv[3] || DEFAULT_OUT;
  const spec = JSON.parse(fs.readFileSync(specPath, "utf8"));
  if (!process.argv[2]) removeFetched(specPath, 3);

  const paths = {};
  for (const op of OPERATIONS) {
    const [method, p] = op.split(" ");
    const item = spec.paths[p];
    const operation = item && item[method.toLowerCase()];
    if (!operation) throw new Error(`operation not in spec: ${op}`);
    paths[p] = paths[p] || {};
    if (item.parameters) paths[p].parameters = item.parameters;
    paths[p][method.toLowerCase()] = stripExamples(operation);
  }

  const refs = new Set();
  collectRefs(spec, paths, refs);
  const components = {};
  for (const ref of [...refs].sort()) {
    const [, section, name] = ref.match(/^#\/components\/([^/]+)\/(.+)$/);
    components[section] = components[section] || {};
    components[section][name] = stripExamples(resolvePointer(spec, ref));
  }

  const subset = {
    openapi: spec.openapi,
    info: {
      ...spec.info,
      "x-gatehouse-subset": {
        package: PACKAGE,
        packageVersion: spec.info.version,
        source: "generated/api.github.com.json",
        generator: "scripts/extract-openapi.js",
        operations: OPERATIONS,
      },
    },
    servers: spec.servers,
    paths,
    components,
  };
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  fs.writeFileSync(outPath, JSON.stringify(subset, null, 1) + "\n");
  const counts = Object.entries(components)
    .map(([k, v]) => `${k}=${Object.keys(v).length}`)
    .join(" ");
  console.log(
    `wrote ${outPath}: ${OPERATIONS.length} operations, components ${counts}`,
  );
}

main();
