/**
 * The part of ua-parser-js 1.x that Beacon uses. 1.x ships no type declarations, and 2.x
 * (which does) is AGPL, so the few members used are declared here.
 */
declare module 'ua-parser-js' {
  interface UAParserResult {
    browser: { name?: string; version?: string };
    os: { name?: string; version?: string };
    device: { type?: string; vendor?: string; model?: string };
  }
  class UAParser {
    constructor(ua?: string);
    setUA(ua: string): this;
    getResult(): UAParserResult;
  }
  export default UAParser;
}
