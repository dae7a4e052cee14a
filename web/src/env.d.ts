/// <reference types="vite/client" />

declare module '@patternfly/react-styles/css/components/*.mjs' {
  const styles: Record<string, string> & { modifiers: Record<string, string> };
  export default styles;
}
