// Release v3 of the example service: deliberately broken (exits at start-up), to show automatic rollback.
import { runService } from '../../app/server.mjs';

runService({ version: 'v3', crashOnStart: 'DATABASE_URL is not set' });
