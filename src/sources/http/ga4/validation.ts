/**
 * What GA4's validation server (`/debug/mp/collect`) checks, answered in its shape:
 * `{"validationMessages": [{fieldPath, description, validationCode}]}`, empty when the
 * request is valid. The rules are GA4's documented limits and reserved names (Measurement
 * Protocol reference, "Limitations" and "Reserved names"); Beacon adds the refusals its own
 * intake would make (props too deep or too large), so a sender can check both at once.
 */

export type ValidationCode =
  | 'VALUE_INVALID'
  | 'VALUE_REQUIRED'
  | 'NAME_INVALID'
  | 'NAME_RESERVED'
  | 'VALUE_OUT_OF_BOUNDS'
  | 'EXCEEDED_MAX_ENTITIES'
  | 'NAME_DUPLICATED';

export interface ValidationMessage {
  fieldPath: string;
  description: string;
  validationCode: ValidationCode;
}

const MAX_EVENTS = 25;
const MAX_PARAMS = 25;
const MAX_USER_PROPERTIES = 25;
const MAX_EVENT_NAME = 40;
const MAX_PARAM_NAME = 40;
const MAX_PARAM_VALUE = 100;
/** Params GA4 lets run longer than 100 characters. */
const LONG_PARAMS: Readonly<Record<string, number>> = { page_location: 1000, page_referrer: 420, page_title: 300 };
const MAX_USER_PROPERTY_NAME = 24;
const MAX_USER_PROPERTY_VALUE = 36;
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  'ad_activeview',
  'ad_click',
  'ad_exposure',
  'ad_query',
  'ad_reward',
  'adunit_exposure',
  'app_background',
  'app_clear_data',
  'app_exception',
  'app_remove',
  'app_store_refund',
  'app_store_subscription_cancel',
  'app_store_subscription_convert',
  'app_store_subscription_renew',
  'app_update',
  'app_upgrade',
  'dynamic_link_app_open',
  'dynamic_link_app_update',
  'dynamic_link_first_open',
  'error',
  'first_open',
  'first_visit',
  'in_app_purchase',
  'notification_dismiss',
  'notification_foreground',
  'notification_open',
  'notification_receive',
  'os_update',
  'session_start',
  'session_start_with_rollout',
  'user_engagement',
]);
const RESERVED_PREFIXES = ['_', 'firebase_', 'ga_', 'google_', 'gtag.'];
const RESERVED_USER_PROPERTIES: ReadonlySet<string> = new Set([
  'first_open_time',
  'first_visit_time',
  'last_deep_link_referrer',
  'user_id',
  'first_open_after_install',
]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function reservedName(name: string): boolean {
  return RESERVED_PREFIXES.some((p) => name.startsWith(p));
}

/** Validates a parsed request body; `app` is true for a firebase_app_id stream. */
export function validateRequest(body: unknown, app: boolean): ValidationMessage[] {
  const messages: ValidationMessage[] = [];
  const add = (fieldPath: string, validationCode: ValidationCode, description: string) =>
    messages.push({ fieldPath, description, validationCode });
  if (!isObject(body)) {
    add('', 'VALUE_INVALID', 'Unable to parse Measurement Protocol JSON payload: the body must be a JSON object.');
    return messages;
  }
  const idField = app ? 'app_instance_id' : 'client_id';
  const id = body[idField];
  if (id === undefined || id === null || id === '')
    add(idField, 'VALUE_REQUIRED', `Measurement requires an ${idField}.`);
  else if (typeof id !== 'string') add(idField, 'VALUE_INVALID', `${idField} must be a string.`);

  const userProperties = body.user_properties;
  if (userProperties !== undefined && !isObject(userProperties))
    add('user_properties', 'VALUE_INVALID', 'user_properties must be an object.');
  else if (isObject(userProperties)) {
    const names = Object.keys(userProperties);
    if (names.length > MAX_USER_PROPERTIES)
      add(
        'user_properties',
        'EXCEEDED_MAX_ENTITIES',
        `A request can have at most ${MAX_USER_PROPERTIES} user properties; it has ${names.length}.`,
      );
    for (const name of names) {
      const path = `user_properties.${name}`;
      if (RESERVED_USER_PROPERTIES.has(name) || reservedName(name))
        add(path, 'NAME_RESERVED', `User property name [${name}] is reserved.`);
      else if (!NAME.test(name))
        add(
          path,
          'NAME_INVALID',
          `User property name [${name}] is invalid. Names must start with an alphabetic character and contain only alphanumeric characters and underscores.`,
        );
      if (name.length > MAX_USER_PROPERTY_NAME)
        add(
          path,
          'VALUE_OUT_OF_BOUNDS',
          `User property name [${name}] is longer than ${MAX_USER_PROPERTY_NAME} characters.`,
        );
      const property = userProperties[name];
      const value = isObject(property) ? property.value : property;
      if (typeof value === 'string' && value.length > MAX_USER_PROPERTY_VALUE)
        add(
          `${path}.value`,
          'VALUE_OUT_OF_BOUNDS',
          `User property [${name}] has a value longer than ${MAX_USER_PROPERTY_VALUE} characters.`,
        );
    }
  }

  const events = body.events;
  if (events === undefined || events === null) {
    add('events', 'VALUE_REQUIRED', 'Measurement requires events.');
    return messages;
  }
  if (!Array.isArray(events)) {
    add('events', 'VALUE_INVALID', 'events must be an array.');
    return messages;
  }
  if (events.length === 0) add('events', 'VALUE_REQUIRED', 'Measurement requires at least one event.');
  if (events.length > MAX_EVENTS)
    add('events', 'EXCEEDED_MAX_ENTITIES', `A request can have at most ${MAX_EVENTS} events; it has ${events.length}.`);
  events.forEach((event, index) => {
    if (!isObject(event)) return add('events', 'VALUE_INVALID', `Event at index: [${index}] must be an object.`);
    const name = event.name;
    if (typeof name !== 'string' || name.length === 0)
      return add('events', 'VALUE_REQUIRED', `Event at index: [${index}] requires a name.`);
    if (RESERVED_EVENTS.has(name) || reservedName(name))
      add('events', 'NAME_RESERVED', `Event at index: [${index}] has name [${name}] which is reserved.`);
    else if (!/^[A-Za-z]/.test(name))
      add(
        'events',
        'NAME_INVALID',
        `Event at index: [${index}] has invalid name [${name}]. Names must start with an alphabetic character.`,
      );
    else if (!NAME.test(name))
      add(
        'events',
        'NAME_INVALID',
        `Event at index: [${index}] has invalid name [${name}]. Only alphanumeric characters and underscores are allowed.`,
      );
    if (name.length > MAX_EVENT_NAME)
      add(
        'events',
        'VALUE_OUT_OF_BOUNDS',
        `Event at index: [${index}] has name [${name}] which is longer than ${MAX_EVENT_NAME} characters.`,
      );
    const params = event.params;
    if (params === undefined || params === null) return;
    if (!isObject(params))
      return add(
        `events[${index}].params`,
        'VALUE_INVALID',
        `Event at index: [${index}] has params that are not an object.`,
      );
    const names = Object.keys(params);
    if (names.length > MAX_PARAMS)
      add(
        `events[${index}].params`,
        'EXCEEDED_MAX_ENTITIES',
        `Event at index: [${index}] has ${names.length} params; at most ${MAX_PARAMS} are allowed.`,
      );
    for (const param of names) {
      const path = `events[${index}].params.${param}`;
      if (reservedName(param))
        add(path, 'NAME_RESERVED', `Event at index: [${index}] has param [${param}] which is reserved.`);
      else if (!NAME.test(param) && param !== 'items')
        add(
          path,
          'NAME_INVALID',
          `Event at index: [${index}] has invalid param [${param}]. Names must start with an alphabetic character and contain only alphanumeric characters and underscores.`,
        );
      if (param.length > MAX_PARAM_NAME)
        add(
          path,
          'VALUE_OUT_OF_BOUNDS',
          `Event at index: [${index}] has param [${param}] whose name is longer than ${MAX_PARAM_NAME} characters.`,
        );
      const value = params[param];
      const limit = LONG_PARAMS[param] ?? MAX_PARAM_VALUE;
      if (typeof value === 'string' && value.length > limit)
        add(
          path,
          'VALUE_OUT_OF_BOUNDS',
          `Event at index: [${index}] has param [${param}] with a value longer than ${limit} characters.`,
        );
    }
  });
  return messages;
}
