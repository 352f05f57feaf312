// Release v1 of the example service: healthy.
import { runService } from '../../app/server.mjs';

runService({ version: 'v1' });
