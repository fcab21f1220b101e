/** localStorage or sessionStorage, or a map in memory where the browser refuses storage (blocked, full, sandboxed). */
export interface Store {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
  keys(): string[];
}

export function openStore(area: 'localStorage' | 'sessionStorage'): Store {
  const memory = new Map<string, string>();
  let storage: Storage | undefined;
  try {
    storage = window[area];
    storage.setItem('beacon_probe', '1');
    storage.removeItem('beacon_probe');
  } catch {
    storage = undefined;
  }
  return {
    get: (key) => {
      try {
        return storage ? storage.getItem(key) : (memory.get(key) ?? null);
      } catch {
        return null;
      }
    },
    set: (key, value) => {
      try {
        if (storage) storage.setItem(key, value);
        else memory.set(key, value);
      } catch {
        // Quota exceeded: the events stay in memory and are still sent while the page lives.
      }
    },
    remove: (key) => {
      try {
        if (storage) storage.removeItem(key);
        else memory.delete(key);
      } catch {
        // nothing to do
      }
    },
    keys: () => {
      if (!storage) return [...memory.keys()];
      const keys: string[] = [];
      try {
        for (let i = 0; i < storage.length; i++) keys.push(storage.key(i)!);
      } catch {
        // a storage that fails mid-way: what was listed
      }
      return keys;
    },
  };
}
