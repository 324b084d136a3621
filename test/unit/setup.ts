// Generous: closure serialisation of dynamic providers is slow on a loaded 2-core machine.
jest.setTimeout(60_000);
