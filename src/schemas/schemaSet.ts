import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv, type AnySchemaObject, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { BeaconError } from '../errors/beaconError.js';
import type { SchemasConfig } from './schemasConfig.js';

/**
 * The configured JSON Schemas, read and compiled once (at start, or by `beacon validate`), and
 * the check of one event's props against its type's schema. Promises it keeps:
 * - Loading either yields a set where every listed type has a compiled validator, or throws one
 *   BEACON_E_SCHEMA_LOAD naming the file and what is wrong with it; Beacon never starts with a
 *   schema it could not read.
 * - `check` never throws on any input (props of any shape, any type string) and costs one map
 *   lookup for a type without a schema.
 * - A violation's `key` is bounded by the schema (keyword and the schema-shaped path, array
 *   indexes folded to `*`), so it can label a metric; the readable `reasons` carry the detail.
 */

/** Most reasons kept per event; the last says how many more there were. */
export const MAX_REASONS = 10;

export interface Violation {
  /** Readable, e.g. `props.plan must be one of "free", "pro"`. */
  reasons: string[];
  /** The first reason as a low-cardinality key, e.g. `/plan:enum`, `/email:required`, `/:additionalProperties`. */
  key: string;
}

export type SchemaCheck = (type: string, props: unknown) => Violation | undefined;

/** One file's schema, before compiling. */
interface SchemaFile {
  path: string;
  schema: AnySchemaObject;
}

type Draft = '07' | '2019-09' | '2020-12';

export class SchemaSet {
  /** Types that have a schema, sorted. */
  readonly types: readonly string[];

  private constructor(
    private readonly validators: ReadonlyMap<string, ValidateFunction>,
    private readonly requireSchema: boolean,
  ) {
    this.types = [...validators.keys()].sort();
  }

  /** True when nothing would ever be checked: no schema and `requireSchema` off. */
  get empty(): boolean {
    return this.validators.size === 0 && !this.requireSchema;
  }

  /**
   * Reads `dir` (every `*.json`; `<type>.json` checks that type, `_*.json` is for `$ref`s only)
   * and the `types` map, and compiles each type's schema. Throws BEACON_E_SCHEMA_LOAD.
   */
  static load(config: SchemasConfig, cwd: string = process.cwd()): SchemaSet {
    const byType = new Map<string, SchemaFile>();
    const files: SchemaFile[] = [];
    if (config.dir !== undefined) {
      const dir = resolve(cwd, config.dir);
      let names: string[];
      try {
        names = readdirSync(dir)
          .filter((n) => n.endsWith('.json'))
          .sort();
      } catch (err) {
        throw loadError(
          `schemas.dir ${dir} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          dir,
          err,
        );
      }
      for (const name of names) {
        const file = readSchemaFile(join(dir, name));
        files.push(file);
        if (!name.startsWith('_')) byType.set(name.slice(0, -'.json'.length), file);
      }
    }
    for (const [type, path] of Object.entries(config.types)) {
      const absolute = resolve(cwd, path);
      const file = files.find((f) => f.path === absolute) ?? readSchemaFile(absolute);
      if (!files.includes(file)) files.push(file);
      byType.set(type, file);
    }

    const instances = new Map<Draft, Ajv>();
    const ajvFor = (draft: Draft): Ajv => {
      let ajv = instances.get(draft);
      if (ajv === undefined) {
        ajv = createAjv(draft);
        instances.set(draft, ajv);
      }
      return ajv;
    };
    // Every file joins its draft's instance first, so `$ref`s between files resolve whatever the order.
    for (const file of files) {
      try {
        ajvFor(draftOf(file)).addSchema(file.schema);
      } catch (err) {
        throw loadError(`${file.path} is not a usable JSON Schema: ${(err as Error).message}`, file.path, err);
      }
    }
    // Every file is compiled, `_` files too, so a mistake in one is reported even before a type refers to it.
    const compiled = new Map<SchemaFile, ValidateFunction>();
    for (const file of files) {
      try {
        const validate = ajvFor(draftOf(file)).getSchema(String(file.schema.$id));
        if (validate === undefined) throw new Error('ajv did not compile it');
        compiled.set(file, validate);
      } catch (err) {
        throw loadError(`${file.path} is not a usable JSON Schema: ${(err as Error).message}`, file.path, err);
      }
    }
    const validators = new Map<string, ValidateFunction>();
    for (const [type, file] of byType) validators.set(type, compiled.get(file)!);
    return new SchemaSet(validators, config.requireSchema);
  }

  has(type: string): boolean {
    return this.validators.has(type);
  }

  /** The JSON Schema of `type` as configured (read-only), or undefined without one. */
  schemaOf(type: string): unknown {
    return this.validators.get(type)?.schema;
  }

  /** undefined when the props are valid, or their type has no schema (and none is required). */
  check: SchemaCheck = (type, props) => {
    const validate = this.validators.get(type);
    if (validate === undefined) {
      if (!this.requireSchema) return undefined;
      return {
        reasons: [`no schema is configured for type "${type.slice(0, 100)}" (schemas.requireSchema is on)`],
        key: 'no_schema',
      };
    }
    let valid: boolean;
    try {
      valid = validate(props) as boolean;
    } catch (err) {
      // ajv's generated code does not throw on data; this is a guard, not a path we expect.
      return { reasons: [`the schema check failed: ${(err as Error).message}`], key: 'check_failed' };
    }
    if (valid) return undefined;
    const errors = validate.errors ?? [];
    const reasons = errors.slice(0, MAX_REASONS).map(describe);
    if (errors.length > MAX_REASONS) reasons[MAX_REASONS - 1] = `... and ${errors.length - MAX_REASONS + 1} more`;
    return {
      reasons: reasons.length > 0 ? reasons : ['props do not match the schema'],
      key: errors[0] ? reasonKey(errors[0]) : 'invalid',
    };
  };
}

function loadError(message: string, path: string, cause: unknown): BeaconError {
  return new BeaconError('BEACON_E_SCHEMA_LOAD', message, { path }, { cause });
}

function readSchemaFile(path: string): SchemaFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw loadError(
      `schema file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      path,
      err,
    );
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw loadError(`schema file ${path} is not valid JSON: ${(err as Error).message}`, path, err);
  }
  if (typeof schema === 'boolean') schema = schema ? {} : { not: {} };
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw loadError(`schema file ${path} must hold a JSON Schema object`, path, undefined);
  }
  const object = schema as AnySchemaObject;
  // A schema without its own $id is known by its file's URL, so relative $refs ("_common.json#/...") find their neighbours.
  if (typeof object.$id !== 'string') object.$id = pathToFileURL(path).href;
  return { path, schema: object };
}

function draftOf(file: SchemaFile): Draft {
  const declared = typeof file.schema.$schema === 'string' ? file.schema.$schema : '';
  if (declared.includes('2020-12')) return '2020-12';
  if (declared.includes('2019-09')) return '2019-09';
  return '07';
}

function createAjv(draft: Draft): Ajv {
  // allErrors: the reasons list every problem at once; strict: a misspelt keyword stops the start instead of checking nothing.
  const options: Options = {
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    logger: false,
  };
  const ajv =
    draft === '2020-12' ? new Ajv2020(options) : draft === '2019-09' ? new Ajv2019(options) : new Ajv(options);
  ajvFormats.default(ajv as never);
  return ajv as Ajv;
}

/** `/items/0/price` -> `props.items[0].price`. */
function where(instancePath: string): string {
  if (instancePath === '') return 'props';
  let out = 'props';
  for (const raw of instancePath.slice(1).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(part)
      ? `[${part}]`
      : /^[A-Za-z_$][\w$]*$/.test(part)
        ? `.${part}`
        : `[${JSON.stringify(part)}]`;
  }
  return out;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function describe(error: ErrorObject): string {
  const at = where(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${at} is missing the required property "${String(params.missingProperty)}"`;
    case 'additionalProperties':
      return `${at} has a property the schema does not allow: "${String(params.additionalProperty).slice(0, 100)}"`;
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
      const list = allowed.slice(0, 10).map(shown).join(', ');
      return `${at} must be one of ${list}${allowed.length > 10 ? ', ...' : ''}`;
    }
    case 'const':
      return `${at} must be ${shown(params.allowedValue)}`;
    case 'type':
      return `${at} must be ${String(params.type)}`;
    default:
      return `${at} ${error.message ?? `fails "${error.keyword}"`}`;
  }
}

/** The metric key: the schema-shaped path (array indexes as `*`) and the keyword. */
function reasonKey(error: ErrorObject): string {
  let path = error.instancePath.replace(/\/\d+(?=\/|$)/g, '/*');
  if (error.keyword === 'required')
    path += `/${String((error.params as { missingProperty?: unknown }).missingProperty)}`;
  return `${path || '/'}:${error.keyword}`.slice(0, 200);
}
