// The single place the command line binds to src/config's loader.
export { loadConfig } from "../config/index.ts";
