// Validate a .glb/.gltf with the Khronos glTF validator and print its JSON report.
// Usage: node scripts/validate_gltf.mjs FILE  (exit 0 = validated, even with issues;
// read report.issues.numErrors). The validator comes from scripts/bootstrap.sh.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const validator = require(path.join(root, ".venv/node/node_modules/gltf-validator"));

const file = process.argv[2];
if (!file) {
  console.error("usage: node scripts/validate_gltf.mjs FILE.glb|FILE.gltf");
  process.exit(2);
}
const full = path.resolve(file);
const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(full)), {
  uri: path.basename(full),
  maxIssues: 0,
  externalResourceFunction: (uri) =>
    fs.promises
      .readFile(path.resolve(path.dirname(full), decodeURIComponent(uri)))
      .then((data) => new Uint8Array(data)),
});
console.log(JSON.stringify(report, null, 1));
