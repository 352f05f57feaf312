// Preact + htm: templates are tagged strings turned into virtual DOM; every interpolated value is
// set as text or a property, never parsed as HTML.
import htm from '/ui/vendor/htm.mjs';
import { h } from '/ui/vendor/preact.mjs';

export const html = htm.bind(h);
