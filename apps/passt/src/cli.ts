#!/usr/bin/env node
/**
 * The passt command's entry: starts the app's CommonJS bundle (app.ts,
 * built to dist/app.cjs) from the code cache the build wrote for it. Why a
 * bundle and a cache, and not this file importing app.ts: @x/engine/boot.
 */
import { bootBundle } from "@x/engine/boot";

bootBundle(new URL("./app.cjs", import.meta.url));
