import type { Rule, ESLint } from 'eslint';
export declare const LAYERS: Record<string, string[]>;
export declare function layerOf(srcRoot: string, file: string): string | null;
export declare const layersRule: Rule.RuleModule;
declare const plugin: ESLint.Plugin;
export default plugin;
