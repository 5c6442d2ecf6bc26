#!/usr/bin/env node
// Compiles assets/contracts/*.sol with the pinned solc-js, offline, into one
// JSON file: { "<Contract>": { "abi": [...], "bytecode": "0x...", "runtime": "0x..." } }.
// Usage: node scripts/compile-contracts.mjs OUT.json
import { createRequire } from "node:module";
import { existsSync, readdirSync, readFileSync, writeFileSync, renameSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
const solc = require("solc");
const out = process.argv[2];
if (!out) {
  console.error("usage: compile-contracts.mjs OUT.json");
  process.exit(2);
}
const dir = join(root, "assets", "contracts");
const sources = {};
for (const f of readdirSync(dir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[f] = { content: readFileSync(join(dir, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
// Imports come from the packages' own sources: first where Stargate V2's
// package keeps its pinned dependencies (LayerZero's OApp/OFT, OpenZeppelin
// 4.9), then the top-level node_modules.
const importRoots = [
  join(root, "node_modules", "@stargatefinance", "stg-evm-v2", "node_modules"),
  join(root, "node_modules"),
];
function findImports(path) {
  for (const r of importRoots) {
    const file = join(r, path);
    if (existsSync(file)) return { contents: readFileSync(file, "utf8") };
  }
  return { error: `not found under node_modules: ${path}` };
}
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const result = {};
// Only the project's own files' contracts (not the packages' they import).
for (const file of Object.keys(output.contracts).filter((f) => f in sources)) {
  for (const [name, c] of Object.entries(output.contracts[file])) {
    if (c.evm.bytecode.object.length === 0) continue; // interfaces
    result[name] = {
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      runtime: "0x" + c.evm.deployedBytecode.object,
    };
  }
}
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
writeFileSync(tmp, JSON.stringify(result));
renameSync(tmp, out);
console.log(`compiled ${Object.keys(result).join(", ")} with solc ${solc.version()}`);
