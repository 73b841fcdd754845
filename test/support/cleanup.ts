// Loaded before every test file (vitest setupFiles): the folders a file's
// tests made with tempDir() go when the file is done.
import { afterAll } from 'vitest';
import { removeTempDirs } from './cli.js';

afterAll(() => removeTempDirs());
