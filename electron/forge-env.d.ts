// Constants that @electron-forge/plugin-vite defines in the main process
// bundle for the renderer entry named `main_window` in forge.config.ts.

/** The Vite dev server's URL under `electron-forge start`; undefined in a packaged app. */
declare const MAIN_WINDOW_VITE_DEV_SERVER_URL: string | undefined;
/** The renderer's name: its build is in `.vite/renderer/<name>/`. */
declare const MAIN_WINDOW_VITE_NAME: string;
