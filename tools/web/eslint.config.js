// ESLint for the browser client. Run from the repository root (scripts/web-check.sh does):
//   tools/web/node_modules/.bin/eslint -c tools/web/eslint.config.js
// With an explicit -c, ESLint resolves the patterns below against the working directory, so they
// name the repository's folders. The rules are the recommended set plus a few that catch real
// bugs in this code base (a loose ==, a variable read before its declaration, a callback of map
// that forgets to return), not matters of taste.
import js from "@eslint/js";
import globals from "globals";

const bugs = {
  eqeqeq: ["error", "always", { null: "ignore" }], // `x != null` (null or undefined) stays idiomatic
  "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none", ignoreRestSiblings: true }],
  // read before its declaration in the same scope (a TDZ error at run time); uses inside functions
  // that run later are fine
  "no-use-before-define": ["error", { functions: false, classes: false, variables: false }],
  "array-callback-return": "error",
  "no-constructor-return": "error",
  "no-promise-executor-return": "error",
  "no-self-compare": "error",
  "no-template-curly-in-string": "error",
  "no-unmodified-loop-condition": "error",
  "no-unreachable-loop": "error",
  "no-var": "error",
  "no-implicit-globals": "error",
  "no-shadow": ["error", { builtinGlobals: false, hoist: "functions" }],
};

export default [
  { ignores: ["**/node_modules/**", "tests/browser/vendor/**"] }, // vendored: not ours to lint
  js.configs.recommended,
  {
    // the pages' ES modules, as browsers load them
    files: ["web/js/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser } },
    rules: bugs,
  },
  {
    // the script the browser tests inject before the page's own (a classic script)
    files: ["tests/browser/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: { ...globals.browser } },
    rules: { ...bugs, "no-implicit-globals": "off" },
  },
  {
    // node's own test runner over the pure modules of web/js
    files: ["tools/web/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
    rules: bugs,
  },
];
