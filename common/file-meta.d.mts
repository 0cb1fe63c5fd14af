export declare const FILE_META_DEFINE: Record<string, string>;
export declare function withFileMeta(text: string, path: string): string;
