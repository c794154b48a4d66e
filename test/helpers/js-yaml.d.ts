// js-yaml (installed with ESLint) ships no types; the deployables test only parses with load().
declare module 'js-yaml' {
  export function load(text: string): unknown;
}
