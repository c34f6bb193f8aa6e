/** A failure the page says in a panel: the backend's message and, when it knows one, what to do (its hint). */
import React from 'react';

export interface ErrorNoteText {
  text: string;
  hint?: string;
}

export function ErrorNote(props: { error: ErrorNoteText }) {
  return (
    <div className="cp-status cp-status-error" role="alert">
      {props.error.text}
      {props.error.hint ? <div className="cp-hint">{props.error.hint}</div> : null}
    </div>
  );
}
