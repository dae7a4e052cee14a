import { Button, FormGroup, Stack, TextInput } from '@patternfly/react-core';
import { PlusCircleIcon, TrashIcon } from '@patternfly/react-icons';
import { useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { MAX_TRUSTED_SOURCES } from '../../../src/access/trusted-sources';
import { FieldError, Hint } from './ui';

/** Broad ranges are allowed but deserve a second look. */
export function isBroad(entry: string): boolean {
  const match = /\/(\d{1,3})$/.exec(entry.trim());
  if (!match) return false;
  const prefix = Number(match[1]);
  return entry.includes(':') ? prefix < 64 : prefix < 28;
}

/**
 * An editable list of trusted (or admin) sources with inline errors per row, a broad-range warning, and a button
 * that adds the address the server sees for this browser. Enter in a row adds the next one.
 */
export function SourceListEditor(props: {
  idPrefix: string;
  /** Admin sources: their own labels, and an empty list is a choice (nobody), not a gap. */
  kind?: 'trusted' | 'admin';
  value: string[];
  onChange: (value: string[]) => void;
  /** Per row: the (localized) problem, or undefined. */
  errors: (string | undefined)[];
  listError?: string;
  sourceAddress?: string;
}) {
  const { t } = useTranslation();
  const rowsRef = useRef<HTMLDivElement>(null);
  const { value: sources, onChange, idPrefix, sourceAddress } = props;
  const mine = sourceAddress ? `${sourceAddress}/${sourceAddress.includes(':') ? 128 : 32}` : '';
  const alreadyMine = sources.some((s) => s.trim() === sourceAddress || s.trim() === mine);
  const full = sources.length >= MAX_TRUSTED_SOURCES;
  const labels = props.kind === 'admin' ? 'adminSources' : 'sources';

  const focusRow = (index: number) =>
    requestAnimationFrame(() =>
      rowsRef.current?.querySelector<HTMLInputElement>(`#${idPrefix}${index}`)?.focus(),
    );
  const addRow = () => {
    onChange([...sources, '']);
    focusRow(sources.length);
  };

  return (
    <Stack hasGutter>
      <div className="kh-source-row" style={{ alignItems: 'center' }}>
        {sourceAddress ? (
          <>
            <span className="kh-grow">
              {t('sources.yourAddress')} <code data-testid="source-address">{sourceAddress}</code>
            </span>
            <Button
              variant="secondary"
              icon={<PlusCircleIcon />}
              isDisabled={alreadyMine || full}
              onClick={() => onChange([...sources.filter((s) => s.trim() !== ''), sourceAddress])}
            >
              {alreadyMine ? t(`${labels}.addedMine`) : t(`${labels}.addMine`)}
            </Button>
          </>
        ) : (
          <span className="kh-muted">{t('sources.noAddress')}</span>
        )}
      </div>
      <FormGroup
        label={t(`${labels}.listLabel`)}
        fieldId={`${idPrefix}0`}
        role="group"
        isRequired={props.kind !== 'admin'}
      >
        <div ref={rowsRef}>
          <Stack hasGutter>
            {sources.length === 0 && <span className="kh-muted">{t(`${labels}.empty`)}</span>}
            {sources.map((source, index) => {
              const message = props.errors[index];
              const warn = !message && isBroad(source);
              const helpId = `${idPrefix}${index}-help`;
              return (
                <div key={index}>
                  <div className="kh-source-row">
                    <div className="kh-grow">
                      <TextInput
                        id={`${idPrefix}${index}`}
                        aria-label={t(`${labels}.entry`, { n: index + 1 })}
                        placeholder="203.0.113.7, 198.51.100.0/28, 2001:db8::/64"
                        value={source}
                        validated={message ? 'error' : warn ? 'warning' : 'default'}
                        aria-describedby={message || warn ? helpId : undefined}
                        onChange={(_e, value) => onChange(sources.map((s, i) => (i === index ? value : s)))}
                        onKeyDown={(event) => {
                          if (event.key === 'Enter') {
                            event.preventDefault();
                            if (!full) addRow();
                          }
                        }}
                      />
                    </div>
                    <Button
                      variant="plain"
                      aria-label={t(`${labels}.remove`, { n: index + 1 })}
                      icon={<TrashIcon />}
                      onClick={() => {
                        onChange(sources.filter((_s, i) => i !== index));
                        focusRow(Math.max(0, index - 1));
                      }}
                    />
                  </div>
                  {message && <FieldError id={helpId} message={message} />}
                  {warn && (
                    <Hint variant="warning">
                      <span id={helpId}>{t('sources.broad')}</span>
                    </Hint>
                  )}
                </div>
              );
            })}
          </Stack>
        </div>
        {props.listError && <FieldError message={props.listError} />}
      </FormGroup>
      <div>
        <Button variant="link" icon={<PlusCircleIcon />} isDisabled={full} onClick={addRow}>
          {t(`${labels}.add`)}
        </Button>
      </div>
    </Stack>
  );
}
