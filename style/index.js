import './base.css';
import './schedules.css';
import './outputs.css';
import './compare.css';
import './debug.css';
import './panels.css';
