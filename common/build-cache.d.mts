export declare const sha: (data: string | Buffer) => string;
export declare function currentManifest<M extends { files: Record<string, string> }>(base: string, key: keyof M & string): M | null;
export declare function commitManifest<M extends { files: Record<string, string> }>(base: string, manifest: M, prefix: string, keep: string): void;
export declare function nearestPackageJson(file: string): string | null;
export declare function loadEsbuild(): typeof import('esbuild');
