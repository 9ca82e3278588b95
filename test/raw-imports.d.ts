/** Vite's `?raw` suffix: the file's text, for data the tests read as an independent source. */
declare module "*?raw" {
  const text: string;
  export default text;
}
