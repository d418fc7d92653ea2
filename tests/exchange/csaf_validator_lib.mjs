// Runs BSI's secvisogram validator library (@secvisogram/csaf-validator-lib, pinned in
// package-lock.json) on CSAF files: the strict CSAF 2.0 schema and every mandatory test.
// Usage: node csaf_validator_lib.mjs FILE...; prints one JSON line per file:
// {"file", "isValid", "failed": [{"name", "errors": [{"instancePath", "message"}]}]}.
import { readFile } from 'node:fs/promises'
import validateStrict from '@secvisogram/csaf-validator-lib/validateStrict.js'
import * as mandatory from '@secvisogram/csaf-validator-lib/mandatoryTests.js'
import { csaf_2_0_strict } from '@secvisogram/csaf-validator-lib/schemaTests.js'

const tests = [csaf_2_0_strict, ...Object.values(mandatory)]
for (const file of process.argv.slice(2)) {
  const document = JSON.parse(await readFile(file, 'utf8'))
  const result = await validateStrict(tests, document)
  const failed = result.tests
    .filter((test) => !test.isValid)
    .map((test) => ({ name: test.name, errors: test.errors }))
  console.log(JSON.stringify({ file, isValid: result.isValid, failed }))
}
