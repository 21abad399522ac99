// The Node half of `shuangshi lint`: bpmnlint over the diagrams, JSON Schema over the forms.
//
// Reads {"diagrams": [path, ...], "forms": [path, ...]} from stdin and writes one JSON object to
// stdout: {"tools": {name: version}, "problems": [problem, ...]} where a problem is
//   {"file", "kind": "bpmn" | "form", "element", "path", "rule", "severity", "message"}
// `element` is the BPMN element id (or null), `path` where inside it (a property path for a
// diagram, a JSON pointer for a form). Severity is "error", "warning" or "info".
//
// The bpmnlint configuration is `.bpmnlintrc` in the repository root (the same file the bpmnlint
// command line reads); the form schema is `scripts/form-schema.json`. The exit code is 0 whenever
// the files were checked, whatever was found; 2 when the checks themselves could not run.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BpmnModdle } from 'bpmn-moddle';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const requireHere = createRequire(import.meta.url);

const { Linter } = requireHere('bpmnlint');
const NodeResolver = requireHere('bpmnlint/lib/resolver/node-resolver');
const Ajv = requireHere('ajv');

const SEVERITY = { error: 'error', warn: 'warning', info: 'info', 'rule-error': 'error' };

function version(pkg) {
  return requireHere(`${pkg}/package.json`).version;
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function lintConfig() {
  const config = readJson(path.join(root, '.bpmnlintrc'));
  const extensions = {};
  for (const [prefix, location] of Object.entries(config.moddleExtensions ?? {})) {
    extensions[prefix] = requireHere(location);
  }
  return { config, extensions };
}

async function lintDiagram(file, config, moddle) {
  const problems = [];
  const add = (element, where, rule, severity, message) =>
    problems.push({ file, kind: 'bpmn', element, path: where, rule, severity, message });

  let parsed;
  try {
    parsed = await moddle.fromXML(readFileSync(file, 'utf8'));
  } catch (error) {
    add(null, null, 'bpmn-xml', 'error', `cannot parse the diagram: ${error.message}`);
    return problems;
  }
  // Unknown elements or attributes and unresolved references: the modeler would drop them.
  for (const warning of parsed.warnings ?? []) {
    add(warning.element?.id ?? null, null, 'bpmn-xml', 'error', warning.message);
  }
  // A fresh linter per diagram: rule instances keep state while they walk one diagram.
  const linter = new Linter({ config, resolver: new NodeResolver({ require: requireHere }) });
  const reports = await linter.lint(parsed.rootElement);
  for (const [rule, entries] of Object.entries(reports)) {
    for (const report of entries) {
      const where = Array.isArray(report.path) && report.path.length ? report.path.join('.') : null;
      add(report.id ?? null, where, rule, SEVERITY[report.category] ?? 'error', report.message);
    }
  }
  return problems;
}

function describe(error) {
  const { keyword, params, message } = error;
  if (keyword === 'enum') {
    return `${message}: ${params.allowedValues.join(', ')}`;
  }
  if (keyword === 'additionalProperties') {
    return `unknown property '${params.additionalProperty}'`;
  }
  if (keyword === 'required') {
    return `'${params.missingProperty}' is required`;
  }
  return message;
}

// Ids and keys the schema cannot see: two fields of one form sharing either.
function duplicates(form) {
  const found = [];
  const seen = { id: new Map(), key: new Map() };
  const visit = (components, pointer) => {
    components.forEach((component, index) => {
      if (component === null || typeof component !== 'object') {
        return;
      }
      const here = `${pointer}/${index}`;
      for (const property of ['id', 'key']) {
        const value = component[property];
        if (typeof value !== 'string') {
          continue;
        }
        const first = seen[property].get(value);
        if (first === undefined) {
          seen[property].set(value, here);
        } else {
          found.push({ path: `${here}/${property}`, message: `${property} '${value}' is already used at ${first}` });
        }
      }
      if (Array.isArray(component.components)) {
        visit(component.components, `${here}/components`);
      }
    });
  };
  if (Array.isArray(form?.components)) {
    visit(form.components, '/components');
  }
  return found;
}

function lintForm(file, validate) {
  const problems = [];
  const add = (where, rule, message) =>
    problems.push({ file, kind: 'form', element: null, path: where, rule, severity: 'error', message });

  let form;
  try {
    form = readJson(file);
  } catch (error) {
    add(null, 'form-json', `not valid JSON: ${error.message}`);
    return problems;
  }
  if (!validate(form)) {
    for (const error of validate.errors) {
      add(error.instancePath || '/', `form-schema/${error.keyword}`, describe(error));
    }
  }
  for (const { path: where, message } of duplicates(form)) {
    add(where, 'form-unique', message);
  }
  return problems;
}

async function main() {
  const request = JSON.parse(readFileSync(0, 'utf8'));
  const { config, extensions } = lintConfig();
  const moddle = new BpmnModdle(extensions);
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
  const validate = ajv.compile(readJson(path.join(here, 'form-schema.json')));

  const problems = [];
  for (const file of request.diagrams ?? []) {
    problems.push(...(await lintDiagram(file, config, moddle)));
  }
  for (const file of request.forms ?? []) {
    problems.push(...lintForm(file, validate));
  }
  const tools = Object.fromEntries(
    ['bpmnlint', 'bpmnlint-plugin-camunda-compat', 'zeebe-bpmn-moddle', 'ajv'].map((pkg) => [pkg, version(pkg)]),
  );
  process.stdout.write(JSON.stringify({ tools, problems }));
}

main().catch((error) => {
  process.stderr.write(`lint-models: ${error.stack ?? error}\n`);
  process.exit(2);
});
