import { defineConfig } from "tsup";
import { appBundles } from "../../tooling/launcher/tsup-app.mjs";

export default defineConfig(appBundles());
