/** kubectl longhorn (the kubectl plugin). */
export {};
