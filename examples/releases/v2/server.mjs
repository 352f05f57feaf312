// Release v2 of the example service: healthy, a little slower to become ready.
import { runService } from '../../app/server.mjs';

runService({ version: 'v2', readyAfterMs: 600 });
