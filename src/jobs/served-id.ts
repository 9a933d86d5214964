/**
 * @module The served id of a model variant: the original is served as `<name>`, the others as
 * `<name>:<variant>`. Runtime-neutral (the Worker's job routes use it too).
 */

/**
 * The served id of a variant of model `name`.
 * @example servedId('tiny', 'flat-50') // 'tiny:flat-50'
 */
export const servedId = (name: string, variant: string) => (variant === 'original' ? name : `${name}:${variant}`);
